/**
 * Versioned schema migrations, one list for both dialects. A migration is never edited once
 * released: changes go in a new one with the next version.
 */
import { initial } from './001-initial.js';
import { searchIndex } from './002-search-index.js';

export interface Migration {
  version: number;
  name: string;
  sqlite: string[];
  postgres: string[];
}

export const MIGRATIONS: readonly Migration[] = [initial, searchIndex];
