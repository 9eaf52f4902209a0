import { useCallback, useEffect, useRef, useState } from 'react';
import type { TypedDocumentString } from '../gql/graphql';
import { ApiError, request } from './client';

export interface QueryState<R> {
  data: R | undefined;
  error: ApiError | undefined;
  loading: boolean;
  /** Runs the query again (keeps the current data on screen meanwhile). */
  reload(): Promise<void>;
}

/** Runs a query whenever its variables change; answers that arrive out of order are dropped. */
export function useQuery<R, V>(document: TypedDocumentString<R, V>, variables: V, options: { skip?: boolean } = {}): QueryState<R> {
  const [data, setData] = useState<R>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(!options.skip);
  const seq = useRef(0);
  const key = JSON.stringify(variables ?? null);
  const run = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const r = await request(document, JSON.parse(key) as V);
      if (mine === seq.current) {
        setData(r);
        setError(undefined);
      }
    } catch (err) {
      if (mine === seq.current) setError(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL'));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [document, key]);
  useEffect(() => {
    if (!options.skip) void run();
  }, [run, options.skip]);
  return { data, error, loading, reload: run };
}

export interface MutationState<R, V> {
  run(variables: V): Promise<R | undefined>;
  running: boolean;
  error: ApiError | undefined;
  result: R | undefined;
  reset(): void;
}

/** A mutation the page triggers; the error is kept for the page to show next to what caused it. */
export function useMutation<R, V>(document: TypedDocumentString<R, V>): MutationState<R, V> {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [result, setResult] = useState<R>();
  const run = useCallback(
    async (variables: V) => {
      setRunning(true);
      setError(undefined);
      try {
        const r = await request(document, variables);
        setResult(r);
        return r;
      } catch (err) {
        setError(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL'));
        return undefined;
      } finally {
        setRunning(false);
      }
    },
    [document],
  );
  return { run, running, error, result, reset: () => (setError(undefined), setResult(undefined)) };
}
