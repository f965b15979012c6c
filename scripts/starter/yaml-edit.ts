// Structural edits of YAML files that keep everything else byte for byte: the nodes to delete are found in the
// parsed document (yaml's AST, CloudFormation tags kept as tags), and only the lines they span (with the comment
// lines right above them) are cut from the text. Re-printing the whole document would reflow every file
// (`{ a }` / `[a]` spacing, comment alignment) in the adopter's first diff.
import { isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';

/** A YAML edit that cannot be made without guessing; the message names the file and path. */
class YamlEditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'YamlEditError';
  }
}

type Path = (string | number)[];

/** A node to cut: a map pair (key and value) or a sequence item. */
interface Cut {
  start: number;
  end: number;
  path: string;
}

const parse = (file: string, text: string): Document => {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new YamlEditError(`${file}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
  return doc;
};

const showPath = (path: Path): string => path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('').replace(/^\./, '');

// ---------------------------------------------------------------------------------------------------------------
// Which logical ids a node names (CloudFormation short and long forms, Fn::Sub's ${Id} and ${Id.Attr})
// ---------------------------------------------------------------------------------------------------------------

const SUB_REFERENCE = /\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}/g;

const subIds = (text: string): string[] => [...text.matchAll(SUB_REFERENCE)].map((m) => m[1] ?? '');

/** The logical ids this node itself names (not its children), e.g. `!GetAtt Queue.Arn` → Queue. */
const namedIds = (node: unknown, key: string | undefined): string[] => {
  if (isScalar(node)) {
    const value = typeof node.value === 'string' ? node.value : '';
    if (node.tag === '!Ref') return [value];
    if (node.tag === '!GetAtt') return [value.split('.')[0] ?? ''];
    if (node.tag === '!Sub') return subIds(value);
    // serverless.yml `role: PlaceOrderRole` and CloudFormation `DependsOn: Policy` name a logical id as plain text
    if (key === 'role' || key === 'DependsOn') return [value];
    return [];
  }
  if (isSeq(node)) {
    const first = node.items[0];
    if (node.tag === '!GetAtt' && isScalar(first)) return [String(first.value)];
    if (node.tag === '!Sub' && isScalar(first)) return subIds(String(first.value));
    return [];
  }
  if (isMap(node) && node.items.length === 1) {
    const only = node.items[0];
    const name = isScalar(only?.key) ? String(only.key.value) : '';
    if (name === 'Ref' && isScalar(only?.value)) return [String(only.value.value)];
    if (name === 'Fn::GetAtt' && isSeq(only?.value) && isScalar(only.value.items[0])) return [String(only.value.items[0].value)];
    if (name === 'Fn::GetAtt' && isScalar(only?.value)) return [String(only.value.value).split('.')[0] ?? ''];
    if (name === 'Fn::Sub') {
      const sub = isSeq(only?.value) ? only.value.items[0] : only?.value;
      if (isScalar(sub)) return subIds(String(sub.value));
    }
  }
  return [];
};

// ---------------------------------------------------------------------------------------------------------------
// Pruning: what refers to a removed id goes, up to the nearest place where it can go without breaking its parent
// ---------------------------------------------------------------------------------------------------------------

/**
 * Map keys whose entries are independent of each other, so one that refers to a removed id is dropped on its own:
 * a function's environment variables, a resource's DependsOn, the stack's Outputs.
 */
const DROPPABLE_ENTRIES_OF = new Set(['environment', 'Variables', 'Outputs']);
const DROPPABLE_KEYS = new Set(['DependsOn']);

interface Pruning {
  file: string;
  text: string;
  cuts: Cut[];
  /** Whole nodes (a resource, a function) that refer to a removed id and are not themselves removed. */
  broken: { path: string; refersTo: string }[];
}

/**
 * Returns the removed id the node (still) refers to once its droppable parts are cut, or undefined when it is
 * clean. Sequence items that refer to a removed id are cut; a sequence emptied that way refers to it as a whole.
 */
const prune = (node: unknown, key: string | undefined, path: Path, removed: ReadonlySet<string>, out: Pruning): string | undefined => {
  const direct = namedIds(node, key).find((id) => removed.has(id));
  if (direct) return direct;
  if (isSeq(node)) {
    let lastDead: string | undefined;
    let alive = 0;
    node.items.forEach((item, index) => {
      const dead = prune(item, undefined, [...path, index], removed, out);
      if (dead === undefined) {
        alive += 1;
        return;
      }
      lastDead = dead;
      if (node.flow) {
        out.broken.push({ path: `${out.file}: ${showPath([...path, index])}`, refersTo: `${dead} (an item of a flow list [a, b]: write the list as a block list to let init drop it)` });
        return;
      }
      out.cuts.push(cutOf(out.text, item as Node, showPath([...path, index])));
    });
    return alive === 0 && lastDead !== undefined ? lastDead : undefined;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '';
      const dead = prune(pair.value, name, [...path, name], removed, out);
      if (dead === undefined) continue;
      if ((key !== undefined && DROPPABLE_ENTRIES_OF.has(key)) || DROPPABLE_KEYS.has(name)) {
        out.cuts.push(cutOfPair(out.text, pair, showPath([...path, name])));
        continue;
      }
      return dead;
    }
  }
  return undefined;
};

// ---------------------------------------------------------------------------------------------------------------
// Cutting lines out of the text
// ---------------------------------------------------------------------------------------------------------------

const lineStart = (text: string, offset: number): number => text.lastIndexOf('\n', offset - 1) + 1;
const lineEnd = (text: string, offset: number): number => {
  const newline = text.indexOf('\n', offset);
  return newline === -1 ? text.length : newline + 1;
};

/** Extends a cut upwards over the comment lines right above it (its own comments). */
const withCommentsAbove = (text: string, start: number): number => {
  let from = start;
  while (from > 0) {
    const previous = lineStart(text, from - 1);
    if (!/^\s*#/.test(text.slice(previous, from))) break;
    from = previous;
  }
  return from;
};

const cutLines = (text: string, start: number, lastOffset: number, path: string): Cut => ({
  start: withCommentsAbove(text, lineStart(text, start)),
  end: lineEnd(text, Math.max(lastOffset - 1, start)),
  path,
});

const cutOf = (text: string, node: Node, path: string): Cut => {
  const [start, valueEnd] = node.range ?? [0, 0, 0];
  return cutLines(text, start, valueEnd, path);
};

const cutOfPair = (text: string, pair: Pair, path: string): Cut => {
  const key = pair.key as Node;
  const value = pair.value as Node | null;
  return cutLines(text, key.range?.[0] ?? 0, value?.range?.[1] ?? key.range?.[1] ?? 0, path);
};

/**
 * Applies cuts: nested, repeated or touching ones merge first, so that a run of removed blocks separated by blank
 * lines leaves one blank line, not one per block.
 */
const applyCuts = (text: string, cuts: Cut[]): string => {
  const sorted = [...cuts].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Cut[] = [];
  for (const cut of sorted) {
    const last = merged.at(-1);
    const between = last ? text.slice(last.end, cut.start) : 'x';
    if (last && (cut.start <= last.end || between.trim() === '')) last.end = Math.max(last.end, cut.end);
    else merged.push({ ...cut });
  }
  let result = text;
  for (const cut of merged.reverse()) {
    let { end } = cut;
    // a block between blank lines (or the end) leaves one blank line, not two
    const blankAbove = cut.start >= 2 && text[cut.start - 1] === '\n' && text[cut.start - 2] === '\n';
    while (blankAbove && end < text.length && text[end] === '\n') end += 1;
    result = result.slice(0, cut.start) + result.slice(end);
  }
  return result;
};

// ---------------------------------------------------------------------------------------------------------------
// The edits
// ---------------------------------------------------------------------------------------------------------------

/** The pair at a path (`params.default.lakeBufferMiB` or ['resources', 7, 'Outputs']), or undefined. */
const pairAt = (doc: Document, at: string | Path): Pair | undefined => {
  const parts = typeof at === 'string' ? at.split('.') : at;
  let node: unknown = doc.contents;
  for (const [index, part] of parts.entries()) {
    if (typeof part === 'number') {
      node = isSeq(node) ? node.items[part] : undefined;
      continue;
    }
    if (!isMap(node)) return undefined;
    const pair = (node as YAMLMap).items.find((p) => isScalar(p.key) && String(p.key.value) === part);
    if (!pair) return undefined;
    if (index === parts.length - 1) return isPair(pair) ? pair : undefined;
    node = pair.value;
  }
  return undefined;
};

/**
 * Deletes the keys at the given dotted paths; throws YamlEditError naming the first that does not exist.
 *
 * @example
 * deleteKeys('serverless.yml', text, ['params.default.lakeBufferMiB', 'functions.orderMetrics']);
 */
const deleteKeys = (file: string, text: string, paths: readonly string[]): string => {
  const doc = parse(file, text);
  const cuts = paths.map((dotted) => {
    const pair = pairAt(doc, dotted);
    if (!pair) throw new YamlEditError(`${file}: no key ${dotted}`);
    return cutOfPair(text, pair, dotted);
  });
  return checked(file, applyCuts(text, cuts));
};

/**
 * Drops what refers to a removed logical id below the given roots (e.g. `Resources`, `functions`): sequence items
 * and droppable entries (environment variables, DependsOn, Outputs) go; a whole resource or function that would be
 * broken instead is reported, never guessed.
 *
 * @example
 * pruneReferences('resources/iam.yml', text, [['Resources']], new Set(['ReviewRequestsQueue']));
 */
const pruneReferences = (file: string, text: string, roots: readonly Path[], removed: ReadonlySet<string>): { text: string; broken: Pruning['broken'] } => {
  const doc = parse(file, text);
  const out: Pruning = { file, text, cuts: [], broken: [] };
  for (const root of roots) {
    const pair = pairAt(doc, root);
    if (!pair || !isMap(pair.value)) continue;
    const section = String(root.at(-1));
    for (const entry of pair.value.items) {
      const name = isScalar(entry.key) ? String(entry.key.value) : '';
      const dead = prune(entry.value, name, [...root, name], removed, out);
      if (dead === undefined) continue;
      if (DROPPABLE_ENTRIES_OF.has(section)) out.cuts.push(cutOfPair(out.text, entry, showPath([...root, name])));
      else out.broken.push({ path: `${file}: ${showPath([...root, name])}`, refersTo: dead });
    }
  }
  return { text: checked(file, applyCuts(text, out.cuts)), broken: out.broken };
};

/**
 * Drops the items of a top-level list (serverless.yml `resources`) that are `${file(<path>)}` of a removed file.
 *
 * @example
 * dropFileIncludes('serverless.yml', text, 'resources', ['resources/streaming.yml']);
 */
const dropFileIncludes = (file: string, text: string, key: string, removedFiles: readonly string[]): string => {
  const doc = parse(file, text);
  const list = pairAt(doc, key)?.value;
  if (!isSeq(list)) return text;
  const cuts = list.items.flatMap((item, index) => {
    const value = isScalar(item) ? String(item.value) : '';
    const included = /^\$\{file\(\.?\/?([^)]+)\)\}$/.exec(value)?.[1];
    return included && removedFiles.includes(included) ? [cutOf(text, item as Node, `${key}[${index}]`)] : [];
  });
  return checked(file, applyCuts(text, cuts));
};

/** Every `${file(...)}` a top-level list includes (serverless.yml `resources`), as paths from the file's folder. */
const fileIncludes = (file: string, text: string, key: string): string[] => {
  const list = pairAt(parse(file, text), key)?.value;
  if (!isSeq(list)) return [];
  return list.items.flatMap((item) => {
    const included = /^\$\{file\(\.?\/?([^)]+)\)\}$/.exec(isScalar(item) ? String(item.value) : '')?.[1];
    return included ? [included] : [];
  });
};

/** The logical ids defined under `Resources` (and `Outputs`) of the inline maps of a top-level list. */
const inlineSections = (file: string, text: string, key: string): { index: number; section: string; ids: string[] }[] => {
  const list = pairAt(parse(file, text), key)?.value;
  if (!isSeq(list)) return [];
  return list.items.flatMap((item, index) =>
    isMap(item)
      ? item.items.flatMap((pair) => (isScalar(pair.key) && isMap(pair.value) ? [{ index, section: String(pair.key.value), ids: pair.value.items.map((p) => String((p.key as { value?: unknown }).value)) }] : []))
      : [],
  );
};

/** Cutting must leave valid YAML; anything else is a bug here, not the adopter's. */
const checked = (file: string, text: string): string => {
  parse(file, text);
  return text;
};

export { YamlEditError, deleteKeys, dropFileIncludes, fileIncludes, inlineSections, pruneReferences };
