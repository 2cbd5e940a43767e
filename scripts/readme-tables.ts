import { configurationTable, metricsTable } from '../src/docs-tables.js';

process.stdout.write(`${configurationTable()}\n\n${await metricsTable()}\n`);
