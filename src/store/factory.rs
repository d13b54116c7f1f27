//! The store factory: [`open`] picks the implementation for a location and
//! returns a [`Store`], the trait objects of one database that the server
//! shares: PostgreSQL for a `postgres://` URL, else a SQLite file.

use std::path::Path;
use std::sync::Arc;

use super::error::StoreResult;
use super::health::Database;
use super::options::OpenOptions;
use super::{
    access, assistants, chat_completions, conversations, postgres, responses, shared, sqlite,
};

/// Every store of one database, each behind its trait. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Store {
    pub responses: Arc<dyn responses::ResponseStore>,
    pub conversations: Arc<dyn conversations::ConversationStore>,
    pub assistants: Arc<dyn assistants::AssistantStore>,
    pub chat_completions: Arc<dyn chat_completions::ChatCompletionStore>,
    pub access: Arc<dyn access::AccessStore>,
    pub database: Arc<dyn Database>,
    /// What processes sharing this database coordinate through; `None` for
    /// a database only this process opens (SQLite).
    pub shared: Option<Arc<dyn shared::SharedStore>>,
}

impl Store {
    /// The stores of one implementation that serves every aggregate.
    pub fn of<S>(store: Arc<S>) -> Self
    where
        S: responses::ResponseStore
            + conversations::ConversationStore
            + assistants::AssistantStore
            + chat_completions::ChatCompletionStore
            + access::AccessStore
            + Database
            + 'static,
    {
        Self {
            responses: store.clone(),
            conversations: store.clone(),
            assistants: store.clone(),
            chat_completions: store.clone(),
            access: store.clone(),
            database: store,
            shared: None,
        }
    }

    /// The stores of a database that several processes share.
    pub fn shared<S>(store: Arc<S>) -> Self
    where
        S: responses::ResponseStore
            + conversations::ConversationStore
            + assistants::AssistantStore
            + chat_completions::ChatCompletionStore
            + access::AccessStore
            + Database
            + shared::SharedStore
            + 'static,
    {
        Self {
            shared: Some(store.clone()),
            ..Self::of(store)
        }
    }
}

/// Opens the store at `location`, creating it and applying migrations if
/// needed: a `postgres://` URL is a PostgreSQL database, anything else a
/// SQLite file.
pub async fn open(location: &Path) -> StoreResult<Store> {
    open_with(location, OpenOptions::default()).await
}

/// [`open`], with options.
pub async fn open_with(location: &Path, options: OpenOptions) -> StoreResult<Store> {
    let text = location.to_string_lossy();
    if postgres::is_postgres_url(&text) {
        let postgres = postgres::PostgresStore::open(&text, options).await?;
        return Ok(Store::shared(Arc::new(postgres)));
    }
    let sqlite = sqlite::SqliteStore::open(location).await?;
    Ok(Store::of(Arc::new(sqlite)))
}
