package server

import (
	"net/http"
)

// listAPIKeys shows the workspace's keys, revoked ones too: the prefix, the
// label, when each was made and last used. The key itself is never kept,
// so it cannot be shown.
func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.cfg.Store.ListAPIKeys(r.Context(), workspaceOf(r).ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": keys})
}

// revokeAPIKey revokes one of the workspace's keys at once: the API
// refuses it from the next request, and the dashboard sessions opened with
// it end. Revoking the key that makes the request is allowed.
func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := s.cfg.Store.RevokeAPIKey(r.Context(), workspaceOf(r).ID, id); err != nil {
		s.notFoundOr(w, r, err, "API key")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
