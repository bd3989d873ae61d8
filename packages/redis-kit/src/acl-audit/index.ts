export { AclAudit, type AclAuditOptions, type AclLogEntry, parseAclLog } from './acl-log.js';
