/**
 * Just enough XML for the S3 documents the edge reads and writes (notification configuration,
 * error bodies). S3 documents are flat, namespaced-by-default and never use CDATA or comments.
 */

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => XML_ESCAPES[character] ?? character);
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_match, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_match, decimal: string) => String.fromCodePoint(Number.parseInt(decimal, 10)))
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}

/** Inner XML of every `<tag>` element (with or without attributes; self-closing ones give ''). */
function xmlElements(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, 'g');
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? '');
}

/** Unescaped text of the first `<tag>` element, or undefined. */
function xmlText(xml: string, tag: string): string | undefined {
  const [first] = xmlElements(xml, tag);
  return first === undefined ? undefined : unescapeXml(first.trim());
}

/** The body S3 answers for an error. */
function s3ErrorXml(code: string, message: string, resource?: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>`,
    resource === undefined ? '' : `<Resource>${escapeXml(resource)}</Resource>`,
    '</Error>',
  ].join('');
}

export { escapeXml, s3ErrorXml, unescapeXml, xmlElements, xmlText };
