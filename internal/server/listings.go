package server

// listingRoutes list and edit what exists: cadences, a cadence's
// enrollments, mailboxes, webhooks, and prospects for a CRM.
func (s *Server) listingRoutes() []route {
	return []route{}
}
