import type { ReactNode } from 'react';
import { RouterProvider, useRouter, match, Link } from './router';
import { SessionProvider, useSession } from './session';
import { Loading } from '../ui/components';
import { SignInPage } from '../pages/SignIn';
import { ROUTES, NAV } from './routes';

function Shell({ children }: { children: ReactNode }) {
  const { me, signOut } = useSession();
  const { location } = useRouter();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Patchbay
        </Link>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => {
              const current = location.path === n.to || location.path.startsWith(`${n.to}/`);
              return (
                <li key={n.to}>
                  <Link to={n.to} aria-current={current ? 'page' : undefined}>
                    {n.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <div className="whoami">
          <span>
            {me?.name} <small className="muted">({me?.roles.join(', ')})</small>
          </span>
          <button type="button" className="btn btn-default" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">{children}</main>
    </div>
  );
}

function Routed() {
  const { me, checking } = useSession();
  const { location } = useRouter();
  if (checking) return <Loading label="Signing in" />;
  if (!me) return <SignInPage />;
  for (const r of ROUTES) {
    const params = match(r.path, location.path);
    if (params) return <Shell>{r.render(params)}</Shell>;
  }
  return (
    <Shell>
      <section className="page">
        <h1>Not found</h1>
        <p>
          Nothing lives at <code>{location.path}</code>. <Link to="/">Go to the fleet</Link>.
        </p>
      </section>
    </Shell>
  );
}

export function App() {
  return (
    <RouterProvider>
      <SessionProvider>
        <Routed />
      </SessionProvider>
    </RouterProvider>
  );
}
