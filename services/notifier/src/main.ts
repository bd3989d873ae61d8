import './tracing.js';
import { bootService } from '@storefront/service-defaults';
import { compose } from './compose.js';
import { loadNotifierConfig } from './config.js';

await bootService({ service: 'notifier', loadConfig: loadNotifierConfig, compose });
