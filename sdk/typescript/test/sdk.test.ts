// The SDK against a running mediamesh (integration/contract/run.sh starts one and sets the variables):
// list the public programs, sign in, create and publish a program through the CMS gateway, and find
// it on the public side. Every call is checked by the compiler against the contracts.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { cmsClient, discoveryClient, signIn } from "../src/index.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run this test through integration/contract/run.sh`);
  }
  return v;
}

const discovery = discoveryClient(env("MEDIAMESH_SDK_DISCOVERY_URL"));
const cms = cmsClient(env("MEDIAMESH_SDK_CMS_URL"));

test("lists the public programs", async () => {
  const { data, error, response } = await discovery.GET("/api/v1/discovery/programs", { params: { query: { limit: 5 } } });
  assert.equal(response.status, 200, JSON.stringify(error));
  assert.ok(Array.isArray(data?.items));
  assert.ok(data.items.length <= 5);
});

test("a wrong password is a problem, not an exception of the transport", async () => {
  await assert.rejects(signIn(cmsClient(env("MEDIAMESH_SDK_CMS_URL")), env("MEDIAMESH_SDK_EMAIL"), "not-the-password"), /login: 401/);
});

test("signs in, creates and publishes a program, and finds it on the public side", async () => {
  const tokens = await signIn(cms, env("MEDIAMESH_SDK_EMAIL"), env("MEDIAMESH_SDK_PASSWORD"));
  assert.ok(tokens.access_token.length > 0);

  const slug = `sdk-${randomUUID().slice(0, 8)}`;
  const created = await cms.POST("/api/v1/cms/programs", {
    params: { header: { "Idempotency-Key": randomUUID() } },
    body: { kind: "podcast", title: "SDK program", slug, language: "en", tags: ["sdk"] },
  });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  const program = created.data!;
  assert.equal(program.slug, slug);
  assert.equal(program.status, "draft");

  const bad = await cms.POST("/api/v1/cms/programs", { body: { kind: "podcast", title: "SDK program", slug, language: "en" } });
  assert.equal(bad.response.status, 409, "a taken slug");
  assert.ok(bad.error?.title);

  const published = await cms.POST("/api/v1/cms/programs/{programId}/publish", { params: { path: { programId: program.id } }, body: {} });
  assert.equal(published.response.status, 200, JSON.stringify(published.error));
  assert.equal(published.data?.status, "published");

  // The read model follows the content events; in one process that is within moments.
  let found;
  for (let i = 0; i < 50 && !found; i++) {
    const got = await discovery.GET("/api/v1/discovery/programs/{programId}", { params: { path: { programId: program.id } } });
    found = got.data;
    if (!found) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(found?.title, "SDK program");
});
