package server

import (
	"errors"
	"io"
	"mime/multipart"

	"github.com/jackc/pgx/v5"
)

type pgxTx = pgx.Tx

// filePart streams the "file" part of a multipart upload without buffering
// it to disk or memory, as a CSV of 200 MB must not be.
type filePart struct {
	*multipart.Part
}

func multipartFile(body io.Reader, boundary string) (*filePart, error) {
	if boundary == "" {
		return nil, errors.New("multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, errors.New(`no "file" part in the form: send the CSV as a part named "file"`)
		}
		if err != nil {
			return nil, err
		}
		if p.FormName() == "file" || (p.FormName() == "" && p.FileName() != "") {
			return &filePart{p}, nil
		}
	}
}
