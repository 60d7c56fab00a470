// What a frontend does with the generated types: log in, post a need, search, read its matches,
// download a published list. Type-checked in CI (`make test`) against the committed openapi.json.
import createClient from "openapi-fetch";

import type { components, paths } from "./schema";

type NeedCreate = components["schemas"]["NeedCreate"];
type Problem = components["schemas"]["Problem"];

export async function tour(baseUrl: string, email: string, password: string): Promise<void> {
  const api = createClient<paths>({ baseUrl, headers: { "Accept-Language": "zh-CN" } });

  const login = await api.POST("/v1/auth/token", { body: { email, password } });
  if (login.error) return report(login.error);
  const token: string = login.data.access_token;
  api.use({ onRequest: ({ request }) => { request.headers.set("Authorization", `Bearer ${token}`); } });

  const need: NeedCreate = {
    title: "名优茶采摘全靠人工，旺季招不到人",
    description: "公司有3000亩茶园，明前茶采摘全靠人工，旺季招工难、成本高，希望找到能替代人工的采摘设备。",
    field: "modern_agriculture.smart_agriculture",
    keywords: ["采茶", "机器人"],
    cooperation_modes: ["co_development", "licence"],
    budget: { min: "300000.00", max: "800000.00", negotiable: false },
  };
  const created = await api.POST("/v1/needs", {
    body: need,
    params: { query: { submit: true }, header: { "Idempotency-Key": crypto.randomUUID() } },
  });
  if (created.error) return report(created.error);
  const needId: string = created.data.id;

  const found = await api.GET("/v1/search/achievements", { params: { query: { q: "采茶机器人", limit: 10 } } });
  if (found.error) return report(found.error);
  for (const hit of found.data.hits) console.log(hit.title, hit.score ?? 0);

  const matches = await api.GET("/v1/needs/{need_id}/matches", { params: { path: { need_id: needId } } });
  if (matches.error) return report(matches.error);
  for (const match of matches.data.matches) {
    const terms: string[] = match.reasons.matched_terms.map((t) => t.term);
    console.log(match.title, match.score.toFixed(2), terms.join("、"));
  }

  const versions = await api.GET("/v1/publications", { params: { query: { list_kind: "achievements" } } });
  if (versions.error) return report(versions.error);
  const latest = versions.data[0];
  if (!latest) return;
  const file = await api.GET("/v1/publications/{publication_id}/download", {
    params: { path: { publication_id: latest.id }, query: { format: "xlsx" } },
    parseAs: "blob",
  });
  if (file.error) return report(file.error);
  const blob: Blob = file.data;
  console.log(`v${latest.version}: ${blob.size} bytes`);
}

function report(problem: Problem): void {
  // `code` is stable whatever the language; `title`/`detail` are Chinese when Accept-Language asks for it.
  console.error(problem.code, problem.title, problem.detail ?? "");
}
