/** How a registered item tells its registry that it changed or left. */
export interface RegistrationHooks {
  onChange: () => void;
  onRemove: () => void;
}

/**
 * What every registered tool, resource and prompt shares: it can be switched off and on, or
 * removed, and each of those tells connected clients that the list changed.
 */
export abstract class Registration {
  enabled = true;
  readonly #hooks: RegistrationHooks;

  constructor(hooks: RegistrationHooks) {
    this.#hooks = hooks;
  }

  /** Tells the registry the published definition changed. */
  protected changed(): void {
    this.#hooks.onChange();
  }

  enable(): void {
    this.enabled = true;
    this.changed();
  }

  disable(): void {
    this.enabled = false;
    this.changed();
  }

  remove(): void {
    this.#hooks.onRemove();
  }
}
