// The score API: the public Scorecard REST API's shape for stored results, history and badges.
export { createApiHandle, answer, errorReply, etagOf, notModified, CACHE_OK, CACHE_NOT_FOUND, CACHE_NONE, type ApiDeps } from './handler.ts';
export { routeRequest, isApiError, ROUTES, API_METHODS, MAX_PATH_LENGTH, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, BADGE_STYLES } from './route.ts';
export type { ApiRequest, ApiError, BadgeStyle, RawRequest } from './route.ts';
export { renderResult, renderHistory, renderBadge, badgeColor, badgeValue, escapeXml, rfc3339, BADGE_LABEL } from './render.ts';
export type { ApiResult, ApiCheck, ApiHistory } from './render.ts';
export { findResult, findHistory, storedChecks } from './queries.ts';
export type { HistoryEntry, Lookup, RepoRef, StoredResult, StoredCheckRow } from './queries.ts';
// The dashboard: list, changes and export routes, pages, fleet figures.
export { routeDashboard, parseSelector, encodeCursor, decodeCursor, LIST_STATES, LIST_SORTS, MAX_LIST_LIMIT } from './dashboard-route.ts';
export type { DashboardRequest, ListQuery, ListFilter, ListState, ListSort, Cursor } from './dashboard-route.ts';
export { answerDashboard, fleetConfigOf, EXPORT_ROWS, type DashboardConfig } from './dashboard.ts';
export { listRepos, freshCutoff, stateOf, type ListItem, type ListPage } from './list.ts';
export { fleetSnapshot, refreshSnapshot, fleetLive, computeSnapshot, type FleetSnapshot, type FleetLive } from './fleet.ts';
