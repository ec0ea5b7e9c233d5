"""What is checked before a number is called: where the contact is (its time zones), when
it may be called there (calling windows), and how often a number may be called."""
