/**
 * `npm run lake:query -- "select ..."`: SQL over the local cloud's lake with DuckDB, embedded (@duckdb/node-api).
 *
 * The tables are the Glue Data Catalog's, as Athena's are on AWS: every table of every database (GetDatabases,
 * GetTables on the local edge) becomes a DuckDB view `<database>.<table>` over the Parquet objects under its
 * `StorageDescriptor.Location`, its Hive-style partitions (`year=/month=/...`) as VARCHAR columns, as the table
 * declares them (string). With one database, its tables answer unqualified too (`from order_events`). The objects
 * are copied to a temporary directory first: DuckDB reads S3 through its httpfs extension, which it downloads at
 * run time, and the local cloud needs no network.
 *
 * Options: --endpoint URL (default http://127.0.0.1:${EDGE_PORT:-4566}), --region R, --json (one JSON object per
 * row). On a deployed stage, Athena runs the same SQL over the same table (README, "Querying the lake").
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { GetDatabasesCommand, GetTablesCommand, GlueClient, type Table } from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS } from 'local-cloud';

const USAGE = `usage: npm run lake:query -- "<SQL>" [--json] [--endpoint URL] [--region R]
e.g.   npm run lake:query -- "select type, count(*) as events from order_events group by type"`;

interface LakeQueryIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
}

interface LakeQueryArguments {
  sql?: string;
  endpoint?: string;
  region?: string;
  json: boolean;
  help: boolean;
}

class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function parseArguments(argv: string[]): LakeQueryArguments {
  const out: LakeQueryArguments = { json: false, help: false };
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] as string;
    const value = (): string => {
      const next = argv[(index += 1)];
      if (next === undefined) throw new UsageError(`${argument} needs a value`);
      return next;
    };
    if (argument === '--json') out.json = true;
    else if (argument === '--help' || argument === '-h') out.help = true;
    else if (argument === '--endpoint') out.endpoint = value();
    else if (argument === '--region') out.region = value();
    else if (argument.startsWith('--')) throw new UsageError(`unknown option ${argument}`);
    else if (out.sql !== undefined) throw new UsageError('one SQL statement, quoted as one argument');
    else out.sql = argument;
  }
  if (!out.help && (out.sql === undefined || out.sql.trim() === '')) throw new UsageError('the SQL to run is missing');
  return out;
}

/** `"name"`: an identifier DuckDB reads as written. */
const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

/** A Glue column type as DuckDB's, for a table with no object yet (its view still answers, with no rows). */
function duckDbType(glueType: string): string {
  const base = glueType.toLowerCase().replace(/\(.*\)$/, '');
  const types: Record<string, string> = { string: 'VARCHAR', varchar: 'VARCHAR', char: 'VARCHAR', tinyint: 'TINYINT', smallint: 'SMALLINT', int: 'INTEGER', integer: 'INTEGER', bigint: 'BIGINT', float: 'FLOAT', double: 'DOUBLE', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP', date: 'DATE' };
  return types[base] ?? 'VARCHAR';
}

/** Copies the Parquet objects under a table's location into `directory`, keys kept (the partitions are in them). */
async function copyTableObjects(s3: S3Client, location: string, directory: string): Promise<number> {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
  if (match === null) return 0;
  const [, bucket = '', prefix = ''] = match;
  let copied = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? '';
      if (!key.endsWith('.parquet')) continue;
      const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body?.transformToByteArray();
      const file = join(directory, key.slice(prefix.length));
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, body ?? new Uint8Array());
      copied += 1;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return copied;
}

/** The view of one Glue table over its copied objects, or an empty table of its columns when it has none yet. */
function viewSql(database: string, table: Table, directory: string, objects: number): string {
  const name = `${quote(database)}.${quote(table.Name ?? '')}`;
  if (objects === 0) {
    const columns = [...(table.StorageDescriptor?.Columns ?? []), ...(table.PartitionKeys ?? [])].map((column) => `${quote(column.Name ?? '')} ${duckDbType(column.Type ?? 'string')}`);
    return `CREATE TABLE ${name} (${columns.join(', ')})`;
  }
  const glob = join(directory, '**', '*.parquet').replaceAll("'", "''");
  return `CREATE VIEW ${name} AS SELECT * FROM read_parquet('${glob}', hive_partitioning = true, hive_types_autocast = false, union_by_name = true)`;
}

function printRows(rows: Record<string, unknown>[], columns: string[], io: LakeQueryIo, json: boolean): void {
  if (json) {
    for (const row of rows) io.out(JSON.stringify(row));
    return;
  }
  const text = (value: unknown): string => (value === null || value === undefined ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: string[]): string => cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join(' | ').trimEnd();
  io.out(line(columns));
  io.out(widths.map((width) => '-'.repeat(width)).join('-+-'));
  for (const row of rows) io.out(line(columns.map((column) => text(row[column]))));
  io.out(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
}

/**
 * Runs one SQL statement over the local lake; answers the exit code (0 done, 1 failed, 2 usage).
 *
 * @example
 * const code = await runLakeQuery(['select count(*) from order_events', '--endpoint', cloud.edgeUrl], { out, err, env: process.env });
 */
async function runLakeQuery(argv: string[], io: LakeQueryIo): Promise<number> {
  let args: LakeQueryArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  const config = { endpoint: args.endpoint ?? `http://127.0.0.1:${io.env.EDGE_PORT || '4566'}`, region: args.region ?? 'us-east-1', credentials: { ...LOCAL_CREDENTIALS } };
  const glue = new GlueClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const directory = await mkdtemp(join(tmpdir(), 'orderflow-lake-query-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const databases = (await glue.send(new GetDatabasesCommand({}))).DatabaseList ?? [];
    for (const database of databases) {
      const name = database.Name ?? '';
      await connection.run(`CREATE SCHEMA ${quote(name)}`);
      for (const table of (await glue.send(new GetTablesCommand({ DatabaseName: name }))).TableList ?? []) {
        const tableDirectory = join(directory, name, table.Name ?? '');
        const objects = await copyTableObjects(s3, table.StorageDescriptor?.Location ?? '', tableDirectory);
        await connection.run(viewSql(name, table, tableDirectory, objects));
      }
    }
    if (databases.length === 1) await connection.run(`SET search_path = '${(databases[0]?.Name ?? '').replaceAll("'", "''")}'`);
    const reader = await connection.runAndReadAll(args.sql as string);
    printRows(reader.getRowObjectsJson() as Record<string, unknown>[], reader.columnNames(), io, args.json);
    return 0;
  } catch (error) {
    const { name, message } = error as Error;
    io.err(`${name === 'Error' ? 'query failed' : name}: ${message}`);
    if (/ECONNREFUSED|fetch failed/.test(message)) io.err(`is the local cloud running (npm start)? edge ${config.endpoint}`);
    return 1;
  } finally {
    connection.closeSync();
    instance.closeSync();
    glue.destroy();
    s3.destroy();
    await rm(directory, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  process.exitCode = await runLakeQuery(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  });
}

export { runLakeQuery };
