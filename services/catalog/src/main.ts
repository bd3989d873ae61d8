import './tracing.js';
import { bootService } from '@storefront/service-defaults';
import { compose } from './compose.js';
import { loadCatalogConfig } from './config.js';

await bootService({ service: 'catalog', loadConfig: loadCatalogConfig, compose });
