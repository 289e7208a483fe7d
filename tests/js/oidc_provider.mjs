// A real OpenID Connect provider (npm oidc-provider) for the tests: it stands in for Google,
// Keycloak or Azure AD. Usage: node oidc_provider.mjs CONFIG.json
//
// CONFIG.json: {"port": 1234, "client_id": "…", "client_secret": "…", "redirect_uris": ["…"],
//               "accounts": {"alice": {"email": "…", "name": "…", "groups": ["admins"]}}}
//
// The client authenticates with client_secret_basic and must use PKCE (S256). Scope claims
// (email, name, groups) are put in the id_token too (conformIdTokenClaims: false). It signs with
// an RS256 key generated at start (kid from CONFIG "kid", default "test-key-1"). The built-in
// development login pages accept any password; the login name is the account id. Prints
// "listening <issuer>" once it accepts connections.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts || {};
// A signing key of its own, made at start (the package's quick-start key is the same everywhere).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: config.kid || 'test-key-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const known = accounts[id];
    if (!known) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, email_verified: true, ...known };
      },
    };
  },
  // Quiet: the tests read failures from HTTP answers.
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
