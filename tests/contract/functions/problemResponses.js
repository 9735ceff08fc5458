// An operation must document at least one 4xx answer, and every 4xx/5xx answer it documents must
// be an RFC 9457 problem: `application/problem+json` and nothing else, with the Problem schema.
// Every operation takes input, if only its query string (an unknown query parameter is a 400), so
// none is exempt. An answer may be a `$ref` to `#/components/responses/...` (the shared 401);
// the rule reads the unresolved document, so such references are followed here.
const PROBLEM_REF = "#/components/schemas/Problem";
const RESPONSES = "#/components/responses/";

export default (operation, _options, context) => {
  const results = [];
  const responses = operation?.responses ?? {};
  const codes = Object.keys(responses);
  if (!codes.some((code) => /^4(\d\d|XX)$/i.test(code))) {
    results.push({ message: "documents no 4xx answer", path: [...context.path, "responses"] });
  }
  const shared = context.document?.data?.components?.responses ?? {};
  for (const code of codes.filter((c) => /^[45]/.test(c))) {
    const path = [...context.path, "responses", code];
    let answer = responses[code];
    const ref = answer?.$ref;
    if (typeof ref === "string") {
      answer = ref.startsWith(RESPONSES) ? shared[ref.slice(RESPONSES.length)] : undefined;
      if (answer === undefined) {
        results.push({ message: `answer ${code} refers to ${ref}, which the document does not hold`, path });
        continue;
      }
    }
    const content = answer?.content ?? {};
    const types = Object.keys(content);
    if (types.length !== 1 || types[0] !== "application/problem+json") {
      results.push({
        message: `answer ${code} must be application/problem+json only, not [${types.join(", ")}]`,
        path,
      });
      continue;
    }
    if (content["application/problem+json"]?.schema?.$ref !== PROBLEM_REF) {
      results.push({ message: `answer ${code} must use the Problem schema`, path: [...path, "content"] });
    }
  }
  return results;
};
