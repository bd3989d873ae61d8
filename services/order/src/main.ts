import './tracing.js';
import { bootService } from '@storefront/service-defaults';
import { compose } from './compose.js';
import { loadOrderConfig } from './config.js';

await bootService({ service: 'order', loadConfig: loadOrderConfig, compose });
