import { useId, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { CreateConnectionBodySchema } from '@jobtrail/domain';
import { ApiError } from '../api/client.js';
import { createConnection, NO_FILTERS } from '../api/endpoints.js';
import { queryKeys } from '../api/query-keys.js';
import { useApi, useSession } from '../auth/auth-context.js';
import { ProblemAlert } from '../components/problem-alert.js';
import { SANDBOX_LOGINS } from './sandbox-logins.js';

type Field = 'institution_id' | 'login_id' | 'password' | 'user_ref';
type FieldErrors = Partial<Record<Field, string>>;
const FIELDS: readonly Field[] = ['institution_id', 'login_id', 'password', 'user_ref'];

/** Server field names look like `body.login_id`; the form's are `login_id`. */
function serverFieldErrors(error: unknown): FieldErrors {
  if (!(error instanceof ApiError)) return {};
  const out: FieldErrors = {};
  for (const e of error.problem.errors ?? []) {
    const field = FIELDS.find((f) => e.field === f || e.field.endsWith(`.${f}`));
    if (field && !out[field]) out[field] = e.message;
  }
  return out;
}

/** Creates a sandbox connection; the same domain schema as the API validates it before it is sent. */
export function CreateConnectionForm() {
  const client = useApi();
  const { me } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [values, setValues] = useState<Record<Field, string>>({
    institution_id: 'sandbox',
    login_id: '',
    password: '',
    user_ref: '',
  });
  const [errors, setErrors] = useState<FieldErrors>({});
  const ids = { form: useId(), logins: useId() };

  const create = useMutation({
    mutationFn: (body: Parameters<typeof createConnection>[1]) => createConnection(client, body),
    onSuccess: ({ connection, job }) => {
      const id = connection.connection_id;
      // The answer is shown at once on the new page, but marked stale (updatedAt 0) so the page
      // still reads the current state: the job may have moved on before this answer arrived.
      queryClient.setQueryData(queryKeys.connection(id), connection, { updatedAt: 0 });
      queryClient.setQueryData(
        queryKeys.history(id, NO_FILTERS),
        { pages: [{ items: [job], next: null }], pageParams: [null] },
        { updatedAt: 0 },
      );
      void queryClient.invalidateQueries({ queryKey: queryKeys.connections() });
      navigate(`/connections/${connection.connection_id}`);
    },
    onError: (err) => setErrors(serverFieldErrors(err)),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = CreateConnectionBodySchema.safeParse({
      institution_id: values.institution_id,
      login_id: values.login_id.trim(),
      password: values.password,
      // An empty reference means "none", which the schema spells as an absent field.
      ...(values.user_ref.trim() ? { user_ref: values.user_ref.trim() } : {}),
    });
    if (!parsed.success) {
      const next: FieldErrors = {};
      for (const issue of parsed.error.issues) {
        const field = issue.path[0] as Field | undefined;
        if (field && !next[field]) next[field] = issue.message;
      }
      setErrors(next);
      return;
    }
    setErrors({});
    create.mutate(parsed.data);
  }

  const field = (name: Field) => ({
    id: `${ids.form}-${name}`,
    name,
    value: values[name],
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby': errors[name] ? `${ids.form}-${name}-error` : undefined,
    onChange: (e: { target: { value: string } }) => setValues((v) => ({ ...v, [name]: e.target.value })),
  });
  const errorOf = (name: Field) =>
    errors[name] && (
      <p id={`${ids.form}-${name}-error`} className="field-error">
        {errors[name]}
      </p>
    );

  return (
    <form className="card form" onSubmit={submit} noValidate aria-labelledby={`${ids.form}-title`}>
      <h3 id={`${ids.form}-title`}>New sandbox connection</h3>
      {/* Credentials go to the tenant of the key in use: it is named where they are typed. */}
      <p className="form-tenant" data-testid="form-tenant">
        In tenant <strong>{me.tenant_name}</strong>
      </p>
      <div className="field">
        <label htmlFor={`${ids.form}-institution_id`}>Institution</label>
        <select {...field('institution_id')}>
          <option value="sandbox">Sandbox (test institution)</option>
        </select>
        {errorOf('institution_id')}
      </div>
      <div className="field">
        <label htmlFor={`${ids.form}-login_id`}>Login</label>
        <input {...field('login_id')} list={ids.logins} autoComplete="off" spellCheck={false} required />
        <datalist id={ids.logins}>
          {SANDBOX_LOGINS.map((l) => (
            <option key={l.login} value={l.login}>
              {l.outcome}
            </option>
          ))}
        </datalist>
        {errorOf('login_id')}
        <details className="hint">
          <summary>Sandbox test logins</summary>
          <ul>
            {SANDBOX_LOGINS.map((l) => (
              <li key={l.login}>
                <code>{l.login}</code> {l.outcome}
              </li>
            ))}
          </ul>
        </details>
      </div>
      <div className="field">
        <label htmlFor={`${ids.form}-password`}>Password</label>
        <input {...field('password')} type="password" autoComplete="new-password" required />
        {errorOf('password')}
      </div>
      <div className="field">
        <label htmlFor={`${ids.form}-user_ref`}>
          Your reference <span className="muted">(optional)</span>
        </label>
        <input {...field('user_ref')} autoComplete="off" />
        {errorOf('user_ref')}
      </div>
      {create.isError && <ProblemAlert error={create.error} context="The connection was not created" />}
      <button type="submit" className="button-primary" disabled={create.isPending}>
        {create.isPending ? 'Creating…' : 'Create connection'}
      </button>
    </form>
  );
}
