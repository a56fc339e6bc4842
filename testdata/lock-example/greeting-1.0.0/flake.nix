{
  description = "Says hello";
  outputs = { self }: { text = "hello from greeting 1.0.0"; };
}
