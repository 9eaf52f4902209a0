import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { useSession } from '../app/session';
import { ErrorMessage, Field } from '../ui/components';

/** Sign in with an API token (`patchbay up` prints an admin token on first start). */
export function SignInPage() {
  const { signIn } = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(token);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(String(err), 'INTERNAL'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title" className="card">
        <h1 id="signin-title">Sign in to Patchbay</h1>
        <p className="muted">Use an API token. The token stays in this browser tab only and is sent to this gateway alone.</p>
        <Field label="API token" error={error?.code === 'TOKEN_REQUIRED' ? error.message : undefined} hint="pbt_… as printed by `patchbay up` or created by an admin">
          {(p) => <input {...p} type="password" autoComplete="off" spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} name="token" />}
        </Field>
        {error && error.code !== 'TOKEN_REQUIRED' ? <ErrorMessage error={error} title="Sign-in failed" /> : null}
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
