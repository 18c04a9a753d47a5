/**
 * The SQLite and PostgreSQL schema sets describe the same tables: same columns, nullability,
 * defaults, keys, indexes and constraints, and identical TypeScript row types, so one Store
 * interface can sit over both and `db copy` can move rows across unchanged.
 */
import { describe, expect, it } from 'vitest';
import { getTableName, is, Column, SQL, type Table } from 'drizzle-orm';
import { getTableConfig as sqliteConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { getTableConfig as pgConfig, type PgTable } from 'drizzle-orm/pg-core';
import * as sqlite from '../../src/db/schema/index.js';
import * as pg from '../../src/db/pg/schema/index.js';

// ---- type level: `npm test` runs tsc first, so a difference here fails the run ----------------

/** True only when A and B are the same type (not merely assignable either way). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

type Sqlite = typeof sqlite;
type Pg = typeof pg;
const sameTableExports: Equals<keyof Sqlite, keyof Pg> = true;
// One entry per table; a table whose row types differ makes its entry `false` and this fails to
// compile, naming the table.
const sameSelectRows: { [K in keyof Sqlite]: true } = {} as {
  [K in keyof Sqlite & keyof Pg]: Equals<Sqlite[K]['$inferSelect'], Pg[K]['$inferSelect']>;
};
const sameInsertRows: { [K in keyof Sqlite]: true } = {} as {
  [K in keyof Sqlite & keyof Pg]: Equals<Sqlite[K]['$inferInsert'], Pg[K]['$inferInsert']>;
};
void [sameTableExports, sameSelectRows, sameInsertRows];

// ---- runtime: what drizzle-kit turns into DDL ------------------------------------------------

/** Renders a check or partial-index predicate with bare column names, e.g. `held_micros >= 0`. */
function render(expr: SQL | undefined): string | undefined {
  if (!expr) return undefined;
  return expr.queryChunks
    .map((c) => (is(c, Column) ? c.name : is(c, SQL) ? render(c) : (c as { value?: string[] }).value?.join('') ?? String(c)))
    .join('');
}

const names = (cols: readonly unknown[]) => cols.map((c) => (c as { name: string }).name);

type AnyConfig = ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>;

/** The engine-neutral shape of a table. Column types are compared by drizzle's JS data type. */
function shape(t: AnyConfig) {
  return {
    name: t.name,
    columns: t.columns.map((c) => ({
      name: c.name,
      type: c.dataType,
      notNull: c.notNull,
      primary: c.primary,
      unique: c.isUnique ? c.uniqueName : false,
      hasDefault: c.hasDefault,
      default: c.default,
      enumValues: c.enumValues,
    })),
    primaryKeys: t.primaryKeys.map((k) => ({ name: k.getName(), columns: names(k.columns) })),
    uniqueConstraints: t.uniqueConstraints.map((u) => ({ name: u.getName(), columns: names(u.columns) })),
    foreignKeys: t.foreignKeys.map((fk) => {
      const ref = fk.reference();
      return { name: fk.getName(), columns: names(ref.columns), to: getTableName(ref.foreignTable), toColumns: names(ref.foreignColumns) };
    }),
    // Predicates of partial indexes are dialect-specific (0/1 vs boolean); they are pinned below.
    indexes: t.indexes.map((i) => ({ name: i.config.name, columns: names(i.config.columns), unique: i.config.unique, partial: !!i.config.where })),
    checks: t.checks.map((c) => ({ name: c.name, expr: render(c.value) })),
  };
}

const tableKeys = Object.keys(sqlite) as (keyof Sqlite)[];
const sqliteShape = (k: keyof Sqlite) => shape(sqliteConfig(sqlite[k] as SQLiteTable));
const pgShape = (k: keyof Pg) => shape(pgConfig(pg[k] as PgTable));

describe('PostgreSQL schema mirrors the SQLite schema', () => {
  it('exports the same tables under the same names', () => {
    expect(Object.keys(pg).sort()).toEqual([...tableKeys].sort());
    for (const k of tableKeys) expect(getTableName(pg[k] as Table)).toBe(getTableName(sqlite[k] as Table));
  });

  for (const k of tableKeys) {
    it(`${getTableName(sqlite[k] as Table)}: same columns, nullability, types, defaults, keys, indexes and checks`, () => {
      expect(pgShape(k)).toEqual(sqliteShape(k));
    });
  }

  it('keeps every time and micro-USD column (and sequence) 64-bit on PostgreSQL', () => {
    const narrow = tableKeys.flatMap((k) =>
      pgConfig(pg[k] as PgTable)
        .columns.filter((c) => /(_at|_micros|^seq)$/.test(c.name) && c.columnType !== 'PgBigInt53')
        .map((c) => `${getTableName(pg[k] as Table)}.${c.name} is ${c.columnType}`),
    );
    expect(narrow).toEqual([]);
  });

  it('writes each partial unique index predicate for its own dialect', () => {
    const predicates = (cfg: AnyConfig) =>
      Object.fromEntries(cfg.indexes.filter((i) => i.config.where).map((i) => [i.config.name, render(i.config.where)]));
    expect(predicates(sqliteConfig(sqlite.ledger))).toEqual({
      ledger_one_settlement_per_job: 'terminal = 1',
      ledger_one_hold_per_job: "kind = 'hold'",
    });
    expect(predicates(pgConfig(pg.ledger))).toEqual({
      ledger_one_settlement_per_job: 'terminal',
      ledger_one_hold_per_job: "kind = 'hold'",
    });
    const partialTables = tableKeys.filter((k) => sqliteShape(k).indexes.some((i) => i.partial) || pgShape(k).indexes.some((i) => i.partial));
    expect(partialTables).toEqual(['ledger']);
  });
});
