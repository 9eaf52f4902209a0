import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { graphql } from '../gql';
import { ApiError, closeSubscriptions, request, tokenStore } from '../api/client';

export const MeQuery = graphql(`
  query Me {
    me {
      tokenId
      name
      roles
      actor
      operations
    }
  }
`);

export interface Me {
  tokenId: string;
  name: string;
  roles: readonly string[];
  actor: string;
  operations: readonly string[];
}

interface SessionValue {
  me: Me | undefined;
  /** True while a stored token is being checked at start. */
  checking: boolean;
  signIn(token: string): Promise<void>;
  signOut(): void;
  /** May the signed-in token run this operation (`Mutation.approveCycle`)? */
  can(operation: string): boolean;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me>();
  const [checking, setChecking] = useState(() => tokenStore.get() !== null);

  const signIn = useCallback(async (token: string) => {
    const trimmed = token.trim();
    if (!trimmed) throw new ApiError('Enter an API token', 'TOKEN_REQUIRED');
    const r = await request(MeQuery, {}, trimmed);
    tokenStore.set(trimmed);
    setMe(r.me);
  }, []);

  const signOut = useCallback(() => {
    tokenStore.clear();
    closeSubscriptions();
    setMe(undefined);
  }, []);

  useEffect(() => {
    const stored = tokenStore.get();
    if (!stored) return;
    signIn(stored)
      .catch(() => tokenStore.clear())
      .finally(() => setChecking(false));
  }, [signIn]);

  const can = useCallback((operation: string) => me?.operations.includes(operation) ?? false, [me]);
  return <SessionContext.Provider value={{ me, checking, signIn, signOut, can }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
