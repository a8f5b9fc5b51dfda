/** A raw `text/event-stream` reader: everything the server sent, as text. */
export interface RawStream {
  readonly status: number;
  readonly headers: Headers;
  /** All bytes received so far, decoded. */
  text(): string;
  close(): void;
}

/** Opens `url` with fetch and keeps reading its body until `close()`. */
export async function openRawStream(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  let text = '';
  if (res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        // closed
      }
    })();
  }
  return { status: res.status, headers: res.headers, text: () => text, close: () => abort.abort() };
}
