//! A request to stop (Ctrl-C) for the long commands, `replay` and `redrive`: asked between steps, so
//! they stop cleanly and say where to go on. Armed when made, so a Ctrl-C during the first step is a
//! request too, not the end of the process.

use std::future::Future;
use std::pin::Pin;

/// A stop request: pending until the signal comes, then requested for good.
pub struct StopRequest {
    signal: Pin<Box<dyn Future<Output = ()> + Send>>,
    requested: bool,
}

impl StopRequest {
    /// Ctrl-C, its handler installed before this returns. A second Ctrl-C, once a stop was asked for,
    /// ends the process at once (exit 130): a step stuck on the network need not be waited out.
    pub async fn ctrl_c() -> Self {
        Self::armed(async {
            let _ = tokio::signal::ctrl_c().await;
            tokio::spawn(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    anstream::eprintln!("second Ctrl-C: stopping now");
                    std::process::exit(130);
                }
            });
        })
        .await
    }

    /// `signal` as the request, polled once now (which is what installs a signal handler).
    pub async fn armed(signal: impl Future<Output = ()> + Send + 'static) -> Self {
        let mut stop = Self { signal: Box::pin(signal), requested: false };
        stop.requested().await;
        stop
    }

    /// Whether a stop has been requested, without waiting.
    pub async fn requested(&mut self) -> bool {
        if !self.requested {
            self.requested = futures::poll!(self.signal.as_mut()).is_ready();
        }
        self.requested
    }

    /// Waits for the request (at once when it was already made).
    pub async fn wait(&mut self) {
        if !self.requested {
            self.signal.as_mut().await;
            self.requested = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_made_before_the_first_question_is_kept_and_asking_again_is_safe() {
        let mut stop = StopRequest::armed(std::future::ready(())).await;
        assert!(stop.requested().await);
        assert!(stop.requested().await, "asked again after the signal completed: still requested");
        stop.wait().await;

        let mut never = StopRequest::armed(std::future::pending()).await;
        assert!(!never.requested().await);
    }
}
