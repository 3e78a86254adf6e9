// Calls to the Parla API through the gateway (same origin: no CORS) and the sign-in tokens.
//
// Where the tokens live (docs/security.md, "The web app's tokens"):
// - the access token (15 minutes) only in this module's memory: no storage an injected script could read later;
// - the refresh token in sessionStorage: it survives a reload of this tab, not the tab itself, and no other tab
//   or site sees it. identity rotates it on every use and revokes the whole login when an old one comes back,
//   so a copied refresh token is good for one use at most, and the theft is noticed then.

const REFRESH_KEY = "parla.refresh_token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let accessToken = null;
let accessExpiresAt = 0;
let refreshInFlight = null;
const listeners = new Set();

/** Called with the signed-in state whenever it changes (sign in, sign out, a login revoked elsewhere). */
export function onSessionChange(listener) {
  listeners.add(listener);
}

function setTokens(pair) {
  accessToken = pair.access_token;
  // Renewed 30 s early, so a request never leaves with a token about to expire.
  accessExpiresAt = Date.now() + (pair.expires_in - 30) * 1000;
  sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
  listeners.forEach((listener) => listener(true));
}

function clearTokens() {
  const wasSignedIn = accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
  accessToken = null;
  accessExpiresAt = 0;
  sessionStorage.removeItem(REFRESH_KEY);
  if (wasSignedIn) listeners.forEach((listener) => listener(false));
}

export function hasSession() {
  return accessToken !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

async function send(path, { method = "GET", body, token, headers = {}, contentType } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (contentType) {
      init.headers["Content-Type"] = contentType;
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(`/api${path}`, init);
  if (response.status === 204) return null;
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  const payload = isJson ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, isJson ? payload : { title: `HTTP ${response.status}`, detail: payload });
  }
  return payload;
}

/** A new token pair for the stored refresh token (one refresh at a time: the old token works only once). */
export function refresh() {
  if (!refreshInFlight) {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    refreshInFlight = (async () => {
      if (!refreshToken) throw new ApiError(401, { title: "Signed out", detail: "Sign in to go on." });
      try {
        setTokens(await send("/identity/auth/refresh", { method: "POST", body: { refresh_token: refreshToken } }));
      } catch (error) {
        if (error.status === 401) clearTokens();
        throw error;
      }
    })().finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

/** A call as the signed-in user: the access token is renewed when it is about to expire or was refused. */
export async function call(path, options = {}) {
  if (!accessToken || Date.now() >= accessExpiresAt) await refresh();
  try {
    return await send(path, { ...options, token: accessToken });
  } catch (error) {
    if (error.status !== 401) throw error;
    await refresh();
    return send(path, { ...options, token: accessToken });
  }
}

/** An anonymous call (registration, login, public course content). */
export function anonymous(path, options = {}) {
  return send(path, options);
}

export async function login(email, password) {
  setTokens(await send("/identity/auth/login", { method: "POST", body: { email, password } }));
}

/** Finishes a provider login: the callback's query goes to identity from this page, with the state cookie. */
export async function finishOAuth(provider, query) {
  setTokens(await send(`/identity/auth/oauth/${encodeURIComponent(provider)}/callback?${query}`));
}

export async function logout() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  clearTokens();
  if (refreshToken) await send("/identity/auth/logout", { method: "POST", body: { refresh_token: refreshToken } });
}
