import 'reflect-metadata';
import { bootstrap } from './bootstrap.js';

/** HTTP entry point; APP_ROLE picks api, worker or all (default). */
void bootstrap();
