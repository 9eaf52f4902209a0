import { createContext, useCallback, useContext, useEffect, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

/** The current location: path and query parameters (`/cycles/c-1?tab=live`). */
export interface Location {
  path: string;
  query: URLSearchParams;
}

interface RouterValue {
  location: Location;
  navigate(to: string, options?: { replace?: boolean }): void;
}

const RouterContext = createContext<RouterValue | undefined>(undefined);

const read = (): Location => ({ path: location.pathname, query: new URLSearchParams(location.search) });

/** History-API routing: the gateway answers every extension-less path with the app. */
export function RouterProvider({ children }: { children: ReactNode }) {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const onPop = () => setLoc(read());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string, options: { replace?: boolean } = {}) => {
    if (options.replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
    setLoc(read());
    window.scrollTo?.(0, 0);
  }, []);
  return <RouterContext.Provider value={{ location: loc, navigate }}>{children}</RouterContext.Provider>;
}

export function useRouter(): RouterValue {
  const v = useContext(RouterContext);
  if (!v) throw new Error('useRouter outside RouterProvider');
  return v;
}

/** Sets query parameters on the current path (filters, pages, tabs) without a new history entry. */
export function useQueryParams(): [URLSearchParams, (changes: Record<string, string | undefined>) => void] {
  const { location: loc, navigate } = useRouter();
  const set = useCallback(
    (changes: Record<string, string | undefined>) => {
      const q = new URLSearchParams(loc.query);
      for (const [k, v] of Object.entries(changes)) {
        if (v === undefined || v === '') q.delete(k);
        else q.set(k, v);
      }
      const s = q.toString();
      navigate(`${loc.path}${s ? `?${s}` : ''}`, { replace: true });
    },
    [loc, navigate],
  );
  return [loc.query, set];
}

/** Matches `/cycles/:id` against a path; returns the parameters or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) out[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return undefined;
  }
  return out;
}

/** An in-app link: a real `<a href>` (open in a new tab works), navigated without a reload. */
export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const { navigate } = useRouter();
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}
