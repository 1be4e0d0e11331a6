import type { EntityManager } from 'typeorm';

type Runner = Pick<EntityManager, 'query'>;

/**
 * Tables owned by modules that may not be migrated yet in every checkout (payments, email
 * delivery, links, webhooks): compliance code asks before touching them, so a missing table is
 * skipped cleanly instead of failing the whole erasure or purge.
 */
export async function tableExists(runner: Runner, table: string): Promise<boolean> {
  const [row]: Array<{ present: boolean }> = await runner.query('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
  return Boolean(row?.present);
}

/** Column name → nullable, for a table in the current schema (empty when the table does not exist). */
export async function columnsOf(runner: Runner, table: string): Promise<Map<string, boolean>> {
  const rows: Array<{ column_name: string; is_nullable: string }> = await runner.query(
    `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`,
    [table],
  );
  return new Map(rows.map((row) => [row.column_name, row.is_nullable === 'YES']));
}

/** Quotes an identifier that came from information_schema (never from a request). */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected identifier ${name}`);
  return `"${name}"`;
}

export interface ForeignKey {
  /** The referencing table. */
  child: string;
  /** Its column that holds the referenced row's id (the non-`business_id` part of a composite key). */
  childColumn: string;
  /** The referenced column of the parent. */
  parentColumn: string;
  /** ON DELETE CASCADE: the database removes the child rows itself. */
  cascade: boolean;
  nullable: boolean;
}

/** Every foreign key that references `parent`, read from the catalog (so tables added by other modules are found too). */
export async function foreignKeysTo(runner: Runner, parent: string): Promise<ForeignKey[]> {
  const rows: Array<{ child: string; delete_action: string; child_columns: string[]; parent_columns: string[]; nullable: boolean[] }> = await runner.query(
    `SELECT c.conrelid::regclass::text AS child, c.confdeltype AS delete_action,
            array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns,
            array(SELECT NOT a.attnotnull FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS nullable
       FROM pg_constraint c
      WHERE c.contype = 'f' AND c.confrelid = to_regclass($1)
      ORDER BY 1, c.conname`,
    [parent],
  );
  return rows.map((row) => {
    const index = Math.max(0, row.parent_columns.findIndex((column) => column !== 'business_id'));
    return { child: row.child, childColumn: row.child_columns[index], parentColumn: row.parent_columns[index], cascade: row.delete_action === 'c', nullable: row.nullable[index] };
  });
}

/**
 * Children that outlive a referenced row: their reference is cleared instead of the row being
 * deleted (a reminder row must survive its email, or the reminder would be sent again).
 */
const INDEPENDENT_CHILDREN = new Set(['invoice_reminders', 'email_suppressions', 'invoices']);

/**
 * Deletes the rows of `table` matching `where`, and first every row that references them
 * (recursively), or clears the reference where the child outlives its parent. Runs inside the
 * retention purge's transaction: immutable tables only allow it for rows past retention.
 */
export async function deleteWithDependents(runner: Runner, table: string, where: string, params: unknown[], depth = 0): Promise<number> {
  if (depth > 6) throw new Error(`foreign keys nest too deep below ${table}`);
  for (const fk of await foreignKeysTo(runner, table)) {
    if (fk.child === table || fk.cascade) continue;
    const parents = `SELECT ${ident(fk.parentColumn)} FROM ${ident(table)} WHERE ${where}`;
    if (fk.nullable && INDEPENDENT_CHILDREN.has(fk.child)) {
      await runner.query(`UPDATE ${ident(fk.child)} SET ${ident(fk.childColumn)} = NULL WHERE ${ident(fk.childColumn)} IN (${parents})`, params);
    } else {
      await deleteWithDependents(runner, fk.child, `${ident(fk.childColumn)} IN (${parents})`, params, depth + 1);
    }
  }
  const result: unknown = await runner.query(`DELETE FROM ${ident(table)} WHERE ${where}`, params);
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}
