/**
 * A local AWS Glue Data Catalog, as far as a lake needs one: databases and tables (the `AWSGlue` JSON API:
 * CreateDatabase, GetDatabase, GetDatabases, DeleteDatabase, CreateTable, GetTable, GetTables, UpdateTable,
 * DeleteTable), served through the edge and read in-process by the local Firehose's record format conversion
 * (the table's columns are the Parquet schema, as on AWS: "Convert input data format in Amazon Data Firehose").
 * Kept in `<dataDir>/glue/catalog.json`. Names are lower-cased as Glue stores them (Glue developer guide,
 * "Creating tables": database, table and column names are lower case).
 */
import { join } from 'node:path';
import { AwsApiError } from '../util/errors.ts';
import { readJsonFile, writeJsonFileAtomic } from '../util/json-file.ts';

type Json = Record<string, unknown>;

interface GlueColumn {
  Name: string;
  Type: string;
  Comment?: string;
}

interface StoredTable extends Json {
  Name: string;
  DatabaseName: string;
  CreateTime: number;
  UpdateTime?: number;
  VersionId: string;
}

interface StoredDatabase extends Json {
  Name: string;
  CreateTime: number;
  tables: Record<string, StoredTable>;
}

interface GlueCatalog {
  handle(operation: string, input: Json): Promise<unknown>;
  /** The data columns of a table (StorageDescriptor.Columns: partition keys live in the object keys), or undefined. */
  columns(databaseName: string, tableName: string): GlueColumn[] | undefined;
}

const NAME = /^[\w-]{1,255}$/;
const invalid = (message: string): AwsApiError => new AwsApiError('InvalidInputException', message);
const notFound = (message: string): AwsApiError => new AwsApiError('EntityNotFoundException', message);

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nameOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) throw invalid(`${field} must be 1-255 letters, digits, '_' or '-', got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function columnList(value: unknown, field: string): GlueColumn[] {
  return (Array.isArray(value) ? value : []).map((column: unknown, index) => {
    if (!isObject(column) || typeof column.Name !== 'string' || typeof column.Type !== 'string') throw invalid(`${field}[${index}] needs a Name and a Type`);
    return { Name: column.Name.toLowerCase(), Type: column.Type.toLowerCase(), ...(typeof column.Comment === 'string' ? { Comment: column.Comment } : {}) };
  });
}

function createGlueCatalog(options: { directory: string; accountId: string }): GlueCatalog {
  const file = join(options.directory, 'catalog.json');
  const databases = new Map<string, StoredDatabase>(Object.entries(readJsonFile<Record<string, StoredDatabase>>(file, {})));
  const persist = (): void => writeJsonFileAtomic(file, Object.fromEntries(databases));

  function database(input: Json, field = 'DatabaseName'): StoredDatabase {
    const name = nameOf(input[field], field);
    const found = databases.get(name);
    if (found === undefined) throw notFound(`Database ${name} not found.`);
    return found;
  }

  function table(input: Json): StoredTable {
    const db = database(input);
    const name = nameOf(input.Name, 'Name');
    const found = db.tables[name];
    if (found === undefined) throw notFound(`Table ${name} not found.`);
    return found;
  }

  const describe = (stored: StoredTable): Json => ({ ...stored, CatalogId: options.accountId, CreateTime: stored.CreateTime / 1000, ...(stored.UpdateTime === undefined ? {} : { UpdateTime: stored.UpdateTime / 1000 }) });
  const describeDatabase = ({ tables: _tables, ...stored }: StoredDatabase): Json => ({ ...stored, CatalogId: options.accountId, CreateTime: stored.CreateTime / 1000 });

  function tableInput(input: Json): StoredTable {
    const value = input.TableInput;
    if (!isObject(value)) throw invalid('TableInput is required');
    const descriptor = isObject(value.StorageDescriptor) ? value.StorageDescriptor : {};
    return {
      ...value,
      Name: nameOf(value.Name, 'TableInput.Name'),
      DatabaseName: nameOf(input.DatabaseName, 'DatabaseName'),
      StorageDescriptor: { ...descriptor, Columns: columnList(descriptor.Columns, 'TableInput.StorageDescriptor.Columns') },
      PartitionKeys: columnList(value.PartitionKeys, 'TableInput.PartitionKeys'),
      CreateTime: Date.now(),
      VersionId: '1',
    };
  }

  const operations: Record<string, (input: Json) => Json> = {
    CreateDatabase: (input) => {
      const databaseInput = isObject(input.DatabaseInput) ? input.DatabaseInput : {};
      const name = nameOf(databaseInput.Name, 'DatabaseInput.Name');
      if (databases.has(name)) throw new AwsApiError('AlreadyExistsException', `Database already exists.`);
      databases.set(name, { ...databaseInput, Name: name, CreateTime: Date.now(), tables: {} });
      persist();
      return {};
    },
    GetDatabase: (input) => ({ Database: describeDatabase(database(input, 'Name')) }),
    GetDatabases: () => ({ DatabaseList: [...databases.values()].map(describeDatabase) }),
    DeleteDatabase: (input) => {
      databases.delete(database(input, 'Name').Name);
      persist();
      return {};
    },
    CreateTable: (input) => {
      const db = database(input);
      const stored = tableInput(input);
      if (db.tables[stored.Name] !== undefined) throw new AwsApiError('AlreadyExistsException', `Table already exists.`);
      db.tables[stored.Name] = stored;
      persist();
      return {};
    },
    UpdateTable: (input) => {
      const db = database(input);
      const next = tableInput(input);
      const current = db.tables[next.Name];
      if (current === undefined) throw notFound(`Table ${next.Name} not found.`);
      db.tables[next.Name] = { ...next, CreateTime: current.CreateTime, UpdateTime: Date.now(), VersionId: String(Number(current.VersionId) + 1) };
      persist();
      return {};
    },
    GetTable: (input) => ({ Table: describe(table(input)) }),
    GetTables: (input) => ({ TableList: Object.values(database(input).tables).map(describe) }),
    DeleteTable: (input) => {
      const db = database(input);
      delete db.tables[table(input).Name];
      persist();
      return {};
    },
  };

  return {
    async handle(operation, input) {
      const run = operations[operation];
      if (run === undefined) throw new AwsApiError('UnknownOperationException', `Glue ${operation} is not supported by the local Glue Data Catalog`);
      return run(input);
    },
    columns(databaseName, tableName) {
      const stored = databases.get(databaseName.toLowerCase())?.tables[tableName.toLowerCase()];
      if (stored === undefined) return undefined;
      return (stored.StorageDescriptor as { Columns: GlueColumn[] }).Columns;
    },
  };
}

export { createGlueCatalog };
export type { GlueCatalog, GlueColumn };
