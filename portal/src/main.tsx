// The portal: sign-in state from /.auth/me, a hash router, and the three pages.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./style.css";
import { readOnlyReason, signInUrl, signOutUrl, whoAmI, type Me } from "./auth";
import { CreateForm } from "./create";
import { useRoute } from "./hooks";
import { InstancePage } from "./instance";
import { InstanceList } from "./list";

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    whoAmI().then(setMe, (err: unknown) => setError(String(err)));
  }, []);
  useEffect(() => {
    document.title = route.page === "instance" ? `${route.name} · Compute instances` : route.page === "create" ? "New · Compute instances" : "Compute instances";
  }, [route]);

  const readOnly = me ? readOnlyReason(me) : undefined;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">Compute instances</a>
        {me && (
          <nav aria-label="Account" class="row">
            <span>
              {me.name} <span class="hint">({me.roles.join(", ") || "no role"})</span>
            </span>
            <a href={signOutUrl()}>Sign out</a>
          </nav>
        )}
      </header>
      <main id="main">
        {error ? (
          <p class="error" role="alert">{error}</p>
        ) : me === undefined ? (
          <p aria-busy="true">Loading…</p>
        ) : me === null ? (
          <section class="signin">
            <h1>Compute instances</h1>
            <p>Your cloud workstations, their jobs and schedules.</p>
            <a class="button primary" href={signInUrl()}>Sign in</a>
          </section>
        ) : route.page === "create" ? (
          readOnly ? <p class="hint">{readOnly}</p> : <CreateForm me={me} />
        ) : route.page === "instance" ? (
          <InstancePage key={route.name} name={route.name} me={me} readOnly={readOnly} />
        ) : (
          <InstanceList me={me} readOnly={readOnly} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
