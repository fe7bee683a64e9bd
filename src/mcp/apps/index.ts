export {
  type AppToolConfig,
  clientSupportsApps,
  UiApp,
  type UiAppOptions,
  uiApp,
} from "./app.ts";
export {
  APP_MIME_TYPE,
  APPS_EXTENSION,
  LEGACY_RESOURCE_URI_KEY,
  toolUiUri,
  toolVisibility,
  type UiCsp,
  type UiPermission,
  type UiResourceMeta,
  type UiVisibility,
} from "./meta.ts";
