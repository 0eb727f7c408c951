// Card errors are distinct classes so callers (CLI, enroll flow) can tell a wrong PIN, which the
// user can fix, from a blocked card or a failed admin authentication, which they cannot.

export class CardError extends Error {
  override name = "CardError";
}

export class WrongPinError extends CardError {
  override name = "WrongPinError";
  constructor(readonly retriesLeft: number) {
    super(
      retriesLeft > 0
        ? `wrong PIN (${retriesLeft} ${retriesLeft === 1 ? "try" : "tries"} left before the card blocks)`
        : "wrong PIN: the card is now blocked",
    );
  }
}

export class PinBlockedError extends CardError {
  override name = "PinBlockedError";
  constructor() {
    super("the card's PIN is blocked; it can only be reset by an administrator (unblock)");
  }
}

export class PinNotSetError extends CardError {
  override name = "PinNotSetError";
  constructor() {
    super("the card has no user PIN yet");
  }
}

export class InvalidPinError extends CardError {
  override name = "InvalidPinError";
}

export class AdminAuthError extends CardError {
  override name = "AdminAuthError";
}

export class SecurityStatusError extends CardError {
  override name = "SecurityStatusError";
}

export class CardFormatError extends CardError {
  override name = "CardFormatError";
}

export class CardNotFoundError extends CardError {
  override name = "CardNotFoundError";
}

export class CardBusyError extends CardError {
  override name = "CardBusyError";
}
