// The score API: the public Scorecard REST API's shape for stored results, history and badges.

export { answerDashboard, type DashboardConfig, EXPORT_ROWS, fleetConfigOf } from './dashboard.ts';
export type { Cursor, DashboardRequest, ListFilter, ListQuery, ListSort, ListState } from './dashboard-route.ts';
// The dashboard: list, changes and export routes, pages, fleet figures.
export { decodeCursor, encodeCursor, LIST_SORTS, LIST_STATES, MAX_LIST_LIMIT, parseSelector, routeDashboard } from './dashboard-route.ts';
export { computeSnapshot, type FleetLive, type FleetSnapshot, fleetLive, fleetSnapshot, refreshSnapshot } from './fleet.ts';
export { type ApiDeps, answer, apiBodyLimit, CACHE_NONE, CACHE_NOT_FOUND, CACHE_OK, createApiHandle, errorReply, etagOf, notModified } from './handler.ts';
export { freshCutoff, type ListItem, type ListPage, listRepos, stateOf } from './list.ts';
export type { HistoryEntry, Lookup, RepoRef, StoredCheckRow, StoredResult } from './queries.ts';
export { findHistory, findResult, storedChecks } from './queries.ts';
export type { ApiCheck, ApiHistory, ApiResult } from './render.ts';
export { BADGE_LABEL, badgeColor, badgeValue, escapeXml, renderBadge, renderHistory, renderResult, rfc3339 } from './render.ts';
export type { ApiError, ApiRequest, BadgeStyle, RawRequest } from './route.ts';
export { API_METHODS, BADGE_STYLES, DEFAULT_HISTORY_LIMIT, isApiError, MAX_HISTORY_LIMIT, MAX_PATH_LENGTH, ROUTES, routeRequest } from './route.ts';
