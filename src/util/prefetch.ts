/**
 * Yields the items of `source`, starting on the next one as soon as the current one has been handed out.
 * The request for it is deferred with setImmediate, i.e. until the consumer has run its synchronous part
 * and is waiting: a consumer that posts work to other threads and then awaits them gets the next item
 * produced on this thread in the meantime, in parallel with them.
 */
export async function* prefetch<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let next: Promise<IteratorResult<T>> = it.next();
  let finished = false;
  try {
    for (;;) {
      const r = await next;
      if (r.done) {
        finished = true;
        return;
      }
      next = new Promise((resolve, reject) => setImmediate(() => it.next().then(resolve, reject)));
      // a failure surfaces when the consumer asks for the item; until then it must not count as unhandled
      next.catch(() => {});
      yield r.value;
    }
  } finally {
    if (!finished) {
      await next.catch(() => {});
      await it.return?.();
    }
  }
}
