// Where a URL the server fetches from, or sends browsers to, may use plain HTTP: only on the
// loopback interface (tests, a provider on the same host). Anything else could be read or replaced
// by anyone on the path, which for keys, codes and tokens means signing in as anyone.

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
}

/** True when the URL is https, or http to a loopback host. */
export function isSecureOrLoopback(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}
