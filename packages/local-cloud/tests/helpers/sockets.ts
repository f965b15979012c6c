/**
 * The TCP sockets this process listens on, from Linux's /proc: the socket inodes of `/proc/self/fd` matched
 * with the LISTEN rows (state 0A) of `/proc/net/tcp` and `/proc/net/tcp6` (proc(5), "/proc/net/tcp").
 * Whatever opened them (our servers, an emulator's own code, a dependency), they are all listed.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

interface ListeningSocket {
  /** `127.0.0.1`, `0.0.0.0`, `::`, `::1`... */
  address: string;
  port: number;
}

/** TCP state LISTEN in /proc/net/tcp (include/net/tcp_states.h: TCP_LISTEN = 10). */
const LISTEN = '0A';

function socketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // Closed between readdir and readlink.
    }
  }
  return inodes;
}

/** `0100007F` (little-endian IPv4) or 32 hex digits (four little-endian words of IPv6) → text. */
function decodeAddress(hex: string): string {
  if (hex.length === 8) return (hex.match(/../g) ?? []).reverse().map((byte) => Number.parseInt(byte, 16)).join('.');
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse());
  const groups = (bytes.join('').match(/.{4}/g) ?? []).join(':');
  return new URL(`http://[${groups}]/`).hostname.slice(1, -1); // WHATWG URL writes IPv6 in its short form

}

/** Every TCP socket this process listens on. */
function listeningSockets(): ListeningSocket[] {
  const mine = socketInodes();
  const sockets: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local = '', , state, , , , , , inode = ''] = fields.slice(1);
      if (state !== LISTEN || !mine.has(inode)) continue;
      const [address = '', port = '0'] = local.split(':');
      sockets.push({ address: decodeAddress(address), port: Number.parseInt(port, 16) });
    }
  }
  return sockets;
}

export { listeningSockets };
export type { ListeningSocket };
