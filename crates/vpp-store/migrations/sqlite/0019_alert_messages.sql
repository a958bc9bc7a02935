-- An alert's message as its code and figures (JSON), so it is written in
-- the reader's language when read; `message` keeps the English text.
ALTER TABLE alerts ADD COLUMN message_data TEXT;
