/** Checks that an answer in a 2026-07-28 `inputResponses` is a result of the request it answers. */
import { isObject } from "./content.ts";
import type { JsonObject } from "./types.ts";

const ELICIT_ACTIONS = new Set(["accept", "decline", "cancel"]);

/** Why an answer is not a result of the request it answers, or undefined when it is one. */
export function answerProblem(method: string, answer: JsonObject): string | undefined {
  switch (method) {
    case "elicitation/create":
      if (typeof answer.action !== "string" || !ELICIT_ACTIONS.has(answer.action))
        return "has no valid action";
      if (answer.content !== undefined && !isObject(answer.content))
        return "has content that is not an object";
      return undefined;
    case "sampling/createMessage":
      if (typeof answer.role !== "string" || typeof answer.model !== "string")
        return "lacks the role or model of a sampling result";
      if (!isObject(answer.content) && !Array.isArray(answer.content))
        return "lacks the content of a sampling result";
      return undefined;
    case "roots/list":
      if (
        !Array.isArray(answer.roots) ||
        !answer.roots.every((root) => isObject(root) && typeof root.uri === "string")
      )
        return "is not a list of roots";
      return undefined;
    default:
      return undefined;
  }
}
