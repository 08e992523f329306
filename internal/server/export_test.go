package server

// RouteInfo is one route of the table, for the external tests.
type RouteInfo struct {
	Method, Path string
	Auth         bool
}

// Routes returns the server's route table: what Handler serves.
func (s *Server) Routes() []RouteInfo {
	var out []RouteInfo
	for _, r := range s.routes() {
		out = append(out, RouteInfo{r.method, r.path, r.auth})
	}
	return out
}
