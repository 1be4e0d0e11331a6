import pg from 'pg';

// node-postgres turns a `date` into a JavaScript Date at local midnight, which shifts the day
// in any time zone west of UTC. Dates stay the "YYYY-MM-DD" text PostgreSQL sent.
pg.types.setTypeParser(pg.types.builtins.DATE, (value: string) => value);
