//! Pages of a list, as the registry pages its lists: at most `max_results` items in a stable
//! order, and an opaque token (an offset) for the next page, absent on the last.

/// Items a page holds when the request does not say.
pub(crate) const DEFAULT_PAGE: i64 = 100;
/// The most a page may hold.
pub(crate) const MAX_PAGE: i64 = 1000;

/// Which page of a list to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) offset: i64,
    pub(crate) limit: i64,
}

impl Page {
    /// The page `max_results` and `page_token` name; the error says what is wrong with them.
    pub(crate) fn parse(max_results: Option<i64>, page_token: Option<&str>) -> Result<Self, String> {
        let limit = match max_results {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n,
            Some(n) => return Err(format!("max_results must be between 1 and {MAX_PAGE}, not {n}")),
        };
        let offset = match page_token.filter(|token| !token.is_empty()) {
            None => 0,
            Some(token) => token
                .parse::<i64>()
                .ok()
                .filter(|offset| *offset >= 0)
                .ok_or_else(|| format!("invalid page token `{token}`"))?,
        };
        Ok(Page { offset, limit })
    }

    /// Splits rows fetched with one more than the page holds into the page's rows and the next
    /// page's token: the row past the page tells that another page follows.
    pub(crate) fn split<R>(self, mut rows: Vec<R>) -> (Vec<R>, Option<String>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_page_token = (rows.len() > limit).then(|| (self.offset + self.limit).to_string());
        rows.truncate(limit);
        (rows, next_page_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_named_by_its_size_and_token_and_the_last_has_no_token() {
        assert_eq!(Page::parse(None, None), Ok(Page { offset: 0, limit: DEFAULT_PAGE }));
        assert_eq!(Page::parse(Some(2), Some("4")), Ok(Page { offset: 4, limit: 2 }));
        assert_eq!(Page::parse(Some(2), Some("")), Ok(Page { offset: 0, limit: 2 }));
        for (max_results, token) in
            [(Some(0), None), (Some(MAX_PAGE + 1), None), (None, Some("x")), (None, Some("-1"))]
        {
            assert!(Page::parse(max_results, token).is_err(), "{max_results:?} {token:?}");
        }
        let page = Page { offset: 4, limit: 2 };
        assert_eq!(page.split(vec![5, 6, 7]), (vec![5, 6], Some("6".to_owned())));
        assert_eq!(page.split(vec![5, 6]), (vec![5, 6], None));
        assert_eq!(page.split(Vec::<i32>::new()), (vec![], None));
    }
}
