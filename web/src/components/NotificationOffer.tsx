/** The offer of desktop notifications, made once I have sent a message (never on first load). */
import { declineNotifications, enableNotifications, offerNotifications } from '../state/attention.js';

export function NotificationOffer() {
  if (!offerNotifications.value) return null;
  return (
    <section class="offer" aria-label="Desktop notifications" data-testid="notify-offer">
      <span class="offer-text">Get a desktop notification when someone writes while you are away?</span>
      <button type="button" class="small" onClick={() => void enableNotifications()} data-testid="notify-enable">
        Turn on
      </button>
      <button type="button" class="small secondary" onClick={declineNotifications} data-testid="notify-decline">
        Not now
      </button>
    </section>
  );
}
