// autocannon ships no type declarations; only the parts `abrec bench load` uses are declared.
// The package is CommonJS: import it as `import autocannon from 'autocannon'`.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  namespace autocannon {
    /** The request autocannon is about to send; setupRequest returns it (changed) or a falsy value to start the sequence over. */
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }

    /** One step of each connection's request sequence. `context` is per connection, cleared when the sequence starts over. */
    interface RequestStep<Context extends object = Record<string, unknown>> extends Request {
      setupRequest?: (request: Request, context: Context) => Request | null | undefined;
      onResponse?: (status: number, body: string, context: Context, headers: Record<string, string | string[]>) => void;
    }

    interface Options<Context extends object = Record<string, unknown>> {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds before a request counts as timed out (the connection is then reset). */
      timeout?: number;
      pipelining?: number;
      /** Requests per second over all connections (open loop, latencies corrected for coordinated omission). */
      overallRate?: number;
      headers?: Record<string, string>;
      method?: string;
      requests?: RequestStep<Context>[];
      initialContext?: Context;
    }

    /** An hdr-histogram-percentiles-obj summary. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9: number;
    }

    interface Result {
      url: string;
      connections: number;
      /** Seconds. */
      duration: number;
      start: Date;
      finish: Date;
      /** Milliseconds. */
      latency: Histogram & { totalCount: number };
      /** Completed requests per second sample; `total` is the number completed, `sent` the number sent. */
      requests: Histogram & { sent: number };
      throughput: Histogram;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      resets: number;
      '2xx': number;
      '4xx': number;
      '5xx': number;
      statusCodeStats: Record<string, { count: number }>;
    }

    interface Instance extends EventEmitter {
      stop(): void;
      on(event: 'tick', listener: (progress: { counter: number; bytes: number }) => void): this;
      on(event: 'reqError', listener: (error: Error) => void): this;
      on(event: 'done', listener: (result: Result) => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
  }

  function autocannon<Context extends object>(
    options: autocannon.Options<Context>,
    callback: (error: Error | null, result: autocannon.Result) => void,
  ): autocannon.Instance;

  export default autocannon;
}
