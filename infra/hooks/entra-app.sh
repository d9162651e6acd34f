#!/bin/sh
# The Entra ID app registration for App Service Authentication, with the app roles admin, user
# and reader (infra/app-roles.json). Run by azd: `pre` before provisioning (creates it once and
# stores AUTH_CLIENT_ID in the azd environment, which main.parameters.json passes to Bicep),
# `post` after (adds the sign-in redirect URI of the deployed app). Idempotent.
# Needs the Azure CLI signed in (`az login`) as someone who may create app registrations.
set -eu
cd "$(dirname "$0")/../.."

mode="${1:-}"
client_id="$(azd env get-value AUTH_CLIENT_ID 2>/dev/null || true)"
case "$client_id" in *ERROR*|*error*) client_id="" ;; esac

if [ "$mode" = "pre" ]; then
  if [ -n "$client_id" ] && az ad app show --id "$client_id" --query appId -o tsv >/dev/null 2>&1; then
    echo "app registration $client_id exists"
    az ad app update --id "$client_id" --app-roles @infra/app-roles.json
    exit 0
  fi
  name="compute-instances-${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set}"
  client_id="$(az ad app create --display-name "$name" --sign-in-audience AzureADMyOrg \
    --app-roles @infra/app-roles.json --query appId -o tsv)"
  # api://<client id> is the audience callers ask tokens for; v2 tokens match the v2.0 issuer in Bicep.
  az ad app update --id "$client_id" --identifier-uris "api://$client_id" --set api.requestedAccessTokenVersion=2
  az ad sp create --id "$client_id" >/dev/null
  azd env set AUTH_CLIENT_ID "$client_id"
  echo "created app registration $name ($client_id)"
elif [ "$mode" = "post" ]; then
  base="$(azd env get-value API_BASE_URL)"
  host="$(printf '%s' "$base" | sed -e 's#^https://##' -e 's#/.*$##')"
  # The portal's browser sign-in: App Service Authentication's callback, with ID tokens issued
  # to it (its sign-in uses the OpenID Connect form_post flow, without a client secret).
  az ad app update --id "${client_id:?AUTH_CLIENT_ID is not set: run the pre step}" \
    --web-redirect-uris "https://$host/.auth/login/aad/callback" --enable-id-token-issuance true
  echo "redirect URI set for https://$host"
else
  echo "usage: $0 pre|post" >&2
  exit 2
fi
