// The REST API, with the key the user typed. The key lives in sessionStorage (this tab
// only, gone when it closes): never localStorage, never a cookie.

const KEY = "parley.apiKey";

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const forgetKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Parley's errors are {"error": {"code", "message"}}; anything else is said as it is. */
async function failure(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) ({code, message} = body.error);
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

export async function request(path, {method = "GET", body, key = getKey()} = {}) {
  const headers = {Authorization: `Bearer ${key}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (exc) {
    throw new ApiError(0, "network", `the server did not answer (${exc.message})`);
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function api(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

/** A short, plain sentence for an error, for people. */
export function explain(exc) {
  if (exc instanceof ApiError) return `${exc.message} (${exc.code})`;
  return exc && exc.message ? exc.message : String(exc);
}
