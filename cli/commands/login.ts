// cix login / logout: remember the endpoint and how to authenticate.
import { Command } from "commander";
import { createApiClient, unwrap } from "../../client/api";
import { tokenProvider } from "../auth";
import { configFile, loadConfig, saveConfig, type Auth } from "../config";
import { usage } from "../context";

export function loginCommand(): Command {
  return new Command("login")
    .description("Remember the API endpoint and your identity: cix login --endpoint <url> (--token <LOCAL_PRINCIPALS token> | --scope api://<app id>/.default for Entra ID: Azure CLI sign-in, else device code).")
    // --endpoint and --token are the global options (cix --help), given here to be saved.
    .option("--scope <scope>", "Entra ID scope of the app's API")
    .option("--tenant <id>", "Entra tenant id")
    .action(async (_o: unknown, c: Command) => {
      const o = c.optsWithGlobals() as { endpoint?: string; token?: string; scope?: string; tenant?: string };
      if (!o.endpoint) throw usage("--endpoint is required, e.g. --endpoint http://127.0.0.1:7071");
      let endpoint: URL;
      try {
        endpoint = new URL(o.endpoint);
      } catch {
        throw usage("--endpoint must be a URL such as http://127.0.0.1:7071");
      }
      if (!o.token === !o.scope) throw usage("give exactly one of --token or --scope");
      const auth: Auth = o.token ? { kind: "token", token: o.token } : { kind: "entra", scope: o.scope!, ...(o.tenant ? { tenantId: o.tenant } : {}) };
      const log = (line: string) => process.stderr.write(line + "\n");
      // Prove it works before saving: an authenticated read every role may do.
      const api = createApiClient({ baseUrl: endpoint.origin, token: tokenProvider(auth, log)! });
      unwrap(await api.GET("/api/sizes"));
      const file = saveConfig({ endpoint: endpoint.origin, auth });
      log(`Signed in to ${endpoint.origin}; saved in ${file}.`);
    });
}

export function logoutCommand(): Command {
  return new Command("logout").description("Forget the saved identity (the endpoint stays).").action(() => {
    const config = loadConfig();
    delete config.auth;
    saveConfig(config);
    process.stderr.write(`Signed out (${configFile()}).\n`);
  });
}
