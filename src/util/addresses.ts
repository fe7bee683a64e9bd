/**
 * Which IP addresses a server may contact on a stranger's say-so. An address is public when
 * it is global unicast and in no special-purpose block (IANA IPv4 and IPv6 special-purpose
 * registries): everything else (loopback, private, link-local, CGNAT, unique-local, cloud
 * metadata, multicast, documentation, translation prefixes that embed an IPv4 address) is not.
 */

/** An IPv4 address as four numbers, or undefined when the text is not a dotted quad. */
function ipv4(text: string): [number, number, number, number] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const numbers = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : Number.NaN));
  if (!numbers.every((n) => n >= 0 && n <= 255)) return undefined;
  return numbers as [number, number, number, number];
}

/** An IPv6 address as eight 16-bit groups (an IPv4 tail and a zone id allowed), or undefined. */
function ipv6(text: string): number[] | undefined {
  let rest = text.replace(/%.*$/, "");
  if (!rest.includes(":")) return undefined;
  const tail: number[] = [];
  const lastColon = rest.lastIndexOf(":");
  const last = rest.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = ipv4(last);
    if (!v4) return undefined;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    rest = rest.slice(0, lastColon + 1);
    if (!rest.endsWith("::")) rest = rest.slice(0, -1);
  }
  const halves = rest.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0] ?? "");
  const back = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  const given = head.length + back.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const hex = (group: string) => (/^[0-9a-f]{1,4}$/i.test(group) ? Number.parseInt(group, 16) : -1);
  const groups = [
    ...head.map(hex),
    ...new Array<number>(8 - given).fill(0),
    ...back.map(hex),
    ...tail,
  ];
  return groups.every((group) => group >= 0) ? groups : undefined;
}

/** Strips the brackets a URL puts around an IPv6 address. */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Whether a host is written as an IP address (v4 dotted quad or v6, brackets allowed). */
export function isIpAddress(host: string): boolean {
  const bare = unbracket(host);
  return ipv4(bare) !== undefined || ipv6(bare) !== undefined;
}

function publicV4([a, b, c]: [number, number, number, number]): boolean {
  return !(
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 192 && b === 88 && c === 99) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224
  );
}

function publicV6(groups: number[]): boolean {
  const [g0 = 0, g1 = 0] = groups;
  // Global unicast is 2000::/3. Outside it: ::/8 (unspecified, loopback, v4-mapped and
  // v4-compatible, NAT64 64:ff9b::/96), 100::/64 discard, fc00::/7 unique-local (AWS's
  // fd00:ec2::254 metadata address among them), fe80::/10 link-local, ff00::/8 multicast.
  if ((g0 & 0xe000) !== 0x2000) return false;
  return !(
    // 2001::/23 protocol assignments: Teredo (which embeds an IPv4 address), benchmarking, ORCHID.
    (g0 === 0x2001 && g1 < 0x0200) ||
    // Documentation prefixes.
    (g0 === 0x2001 && g1 === 0x0db8) ||
    (g0 === 0x3fff && g1 < 0x1000) ||
    // 6to4 embeds an IPv4 address, private ones included.
    g0 === 0x2002
  );
}

/** Whether an IP address is public: global unicast outside every special-purpose block. */
export function isPublicAddress(address: string): boolean {
  const bare = unbracket(address).toLowerCase();
  const v4 = ipv4(bare);
  if (v4) return publicV4(v4);
  const v6 = ipv6(bare);
  return v6 ? publicV6(v6) : false;
}

/** Whether an IP address is loopback: 127.0.0.0/8 or ::1. */
export function isLoopbackAddress(address: string): boolean {
  const bare = unbracket(address).toLowerCase();
  const v4 = ipv4(bare);
  if (v4) return v4[0] === 127;
  const v6 = ipv6(bare);
  if (!v6) return false;
  return v6.slice(0, 7).every((group) => group === 0) && v6[7] === 1;
}

/**
 * Whether an IP address is on a private network an operator may choose to reach: RFC 1918,
 * CGNAT (100.64.0.0/10) or unique-local fc00::/7. Loopback, link-local and the cloud metadata
 * addresses in those blocks are not among them.
 */
export function isPrivateNetworkAddress(address: string): boolean {
  const bare = unbracket(address).toLowerCase();
  const v4 = ipv4(bare);
  if (v4) {
    const [a, b] = v4;
    return (
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  const v6 = ipv6(bare);
  if (!v6) return false;
  const metadata = [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254];
  return (v6[0]! & 0xfe00) === 0xfc00 && !v6.every((group, i) => group === metadata[i]);
}

/**
 * One spelling per address, to compare two of them: IPv4 dotted quads as they are, IPv6
 * as eight groups (IPv4-mapped ones as their IPv4 address). Undefined for anything else.
 */
export function addressKey(address: string): string | undefined {
  const bare = unbracket(address).toLowerCase();
  const v4 = ipv4(bare);
  if (v4) return v4.join(".");
  const v6 = ipv6(bare);
  if (!v6) return undefined;
  const mapped = v6.slice(0, 5).every((group) => group === 0) && v6[5] === 0xffff;
  if (mapped) return [v6[6]! >> 8, v6[6]! & 0xff, v6[7]! >> 8, v6[7]! & 0xff].join(".");
  return v6.map((group) => group.toString(16)).join(":");
}
