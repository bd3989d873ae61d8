import { bootService } from '@storefront/service-defaults';
import { compose } from './compose.js';
import { loadDashboardConfig } from './config.js';

await bootService({ service: 'dashboard', loadConfig: loadDashboardConfig, compose: (host) => compose(host) });
