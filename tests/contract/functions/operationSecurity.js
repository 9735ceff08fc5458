// Every operation states its security explicitly. Public operations (listed in the ruleset)
// answer without credentials and say so with `security: [{}]`; every other operation requires
// one of the document's security schemes.
export default (operation, options, context) => {
  const isPublic = (options?.public ?? []).includes(operation?.operationId);
  const security = operation?.security;
  const path = [...context.path, "security"];
  if (!Array.isArray(security) || security.length === 0) {
    return [{ message: "states no security (use a scheme, or `[{}]` for a listed public operation)", path }];
  }
  const anonymous = security.some((req) => Object.keys(req ?? {}).length === 0);
  if (isPublic && !(anonymous && security.length === 1)) {
    return [{ message: "is listed as public, so its security must be exactly `[{}]`", path }];
  }
  if (!isPublic && anonymous) {
    return [{ message: "allows anonymous calls but is not listed as public in the ruleset", path }];
  }
  if (!isPublic) {
    const schemes = Object.keys(context.document.data?.components?.securitySchemes ?? {});
    const unknown = security.flatMap((req) => Object.keys(req)).filter((name) => !schemes.includes(name));
    if (unknown.length > 0) {
      return [{ message: `names undefined security schemes: ${unknown.join(", ")}`, path }];
    }
  }
  return [];
};
